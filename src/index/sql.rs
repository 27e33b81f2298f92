//! `atom query`: user SQL over the index, on a connection of its own that
//! cannot write.
//!
//! The design decision: the statement runs on a separate connection opened
//! `SQLITE_OPEN_READ_ONLY`, with `query_only` on and no room for `ATTACH`, so
//! safety does not rest on parsing SQL; the keyword and single-statement
//! checks only give a clear refusal before SQLite would give an obscure one.

use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;

use super::Index;

/// Why a query was not run or failed.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The text is not a single read statement.
    #[error("refused: {0}")]
    Refused(String),
    /// SQLite rejected the statement (syntax, unknown table, ...).
    #[error("SQL error: {0}")]
    Sql(String),
    /// The index could not be opened read-only.
    #[error("index: {0}")]
    Open(String),
}

/// One value of a result row.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    /// NULL.
    Null,
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// Text.
    Text(String),
    /// A blob.
    Blob(Vec<u8>),
}

impl SqlValue {
    /// The value as a table cell: blobs in lowercase hex, NULL empty.
    pub fn display(&self) -> String {
        match self {
            SqlValue::Null => String::new(),
            SqlValue::Integer(i) => i.to_string(),
            SqlValue::Real(f) => f.to_string(),
            SqlValue::Text(t) => t.clone(),
            SqlValue::Blob(b) => hex(b),
        }
    }
}

impl serde::Serialize for SqlValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            SqlValue::Null => s.serialize_none(),
            SqlValue::Integer(i) => s.serialize_i64(*i),
            SqlValue::Real(f) if f.is_finite() => s.serialize_f64(*f),
            SqlValue::Real(f) => s.collect_str(f),
            SqlValue::Text(t) => s.serialize_str(t),
            SqlValue::Blob(b) => s.serialize_str(&hex(b)),
        }
    }
}

/// The result of a query: column names and rows.
#[derive(Debug, Clone, Default)]
pub struct SqlRows {
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Rows, each with one value per column.
    pub rows: Vec<Vec<SqlValue>>,
}

/// Statements `atom query` accepts, by first keyword.
const READ_KEYWORDS: [&str; 3] = ["SELECT", "WITH", "EXPLAIN"];

impl Index {
    /// Run `sql` on a connection of its own to the index file that cannot
    /// write (see the module documentation).
    pub fn read_only_query(&self, sql: &str) -> Result<SqlRows, QueryError> {
        run(|| self.reader(), sql)
    }
}

/// Run `sql` read-only on the connection `open` makes.
fn run(
    open: impl FnOnce() -> Result<rusqlite::Connection, rusqlite::Error>,
    sql: &str,
) -> Result<SqlRows, QueryError> {
    let keyword = first_keyword(sql);
    if !READ_KEYWORDS.contains(&keyword.as_str()) {
        return Err(QueryError::Refused(if keyword.is_empty() {
            "the query is empty".into()
        } else {
            format!("{keyword} is not a read statement (only SELECT, WITH or EXPLAIN)")
        }));
    }
    let open_error = |e: rusqlite::Error| QueryError::Open(e.to_string());
    let conn = open().map_err(open_error)?;
    conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)
        .map_err(open_error)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(open_error)?;
    conn.busy_timeout(super::BUSY_WAIT).map_err(open_error)?;
    let mut stmt = conn.prepare(sql).map_err(|e| match e {
        rusqlite::Error::MultipleStatement => {
            QueryError::Refused("only a single statement is allowed".into())
        }
        e => QueryError::Sql(sql_message(&e)),
    })?;
    if !stmt.readonly() {
        return Err(QueryError::Refused("the statement would write".into()));
    }
    let columns: Vec<String> = stmt.column_names().map(String::from).collect();
    let n = columns.len();
    let mut rows = stmt
        .query([])
        .map_err(|e| QueryError::Sql(sql_message(&e)))?;
    let mut out = Vec::new();
    loop {
        let row = match rows.next() {
            Ok(Some(row)) => row,
            Ok(None) => break,
            Err(e) => return Err(QueryError::Sql(sql_message(&e))),
        };
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            let v = row
                .get_ref(i)
                .map_err(|e| QueryError::Sql(sql_message(&e)))?;
            values.push(match v {
                ValueRef::Null => SqlValue::Null,
                ValueRef::Integer(i) => SqlValue::Integer(i),
                ValueRef::Real(f) => SqlValue::Real(f),
                ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(b) => SqlValue::Blob(b.to_vec()),
            });
        }
        out.push(values);
    }
    Ok(SqlRows { columns, rows: out })
}

/// Lowercase hex of a blob.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SQLite's own message, without rusqlite's wrapping.
fn sql_message(e: &rusqlite::Error) -> String {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(m)) => m.clone(),
        e => e.to_string(),
    }
}

/// The first keyword of `sql`, upper case, after whitespace and comments.
fn first_keyword(sql: &str) -> String {
    let mut rest = sql;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, r)| r);
        } else {
            break;
        }
    }
    rest.chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect::<String>()
        .to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::first_keyword;

    #[test]
    fn first_keyword_skips_comments() {
        assert_eq!(first_keyword("  -- hi\n /* x */ select 1"), "SELECT");
        assert_eq!(
            first_keyword("with x as (select 1) select * from x"),
            "WITH"
        );
        assert_eq!(first_keyword(";select 1"), "");
        assert_eq!(first_keyword("   "), "");
    }
}
