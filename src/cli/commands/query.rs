//! `atom query SQL`: read-only SQL over the index, as a table or `--json`.

use atom::index::{QueryError, SqlRows};
use atom::trail::QuerySqlError;
use serde_json::{Map, Value};

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// One SELECT, WITH or EXPLAIN statement (tables: atoms, trail_atoms, influences, paths).
    sql: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let result = trail.query_sql(&args.sql).map_err(|e| match e {
        QuerySqlError::Trail(e) => CliError::from(e),
        QuerySqlError::Query(e @ (QueryError::Refused(_) | QueryError::Sql(_))) => {
            CliError::usage(
                e.to_string(),
                "`atom query` runs one read statement, e.g. atom query 'SELECT agent, count(*) FROM atoms GROUP BY agent'",
            )
        }
        QuerySqlError::Query(e) => CliError::problem(
            e.to_string(),
            Some("the index is a cache: run `atom reindex` to rebuild it".into()),
        ),
    })?;
    if ctx.printer.json {
        ctx.printer.json(&objects(&result))?;
    } else {
        ctx.printer.out(&table(&result))?;
    }
    Ok(())
}

/// One JSON object per row, columns in order.
fn objects(result: &SqlRows) -> Vec<Map<String, Value>> {
    result
        .rows
        .iter()
        .map(|row| {
            result
                .columns
                .iter()
                .zip(row)
                .map(|(c, v)| {
                    let v = serde_json::to_value(v).expect("SQL values serialize");
                    (c.clone(), v)
                })
                .collect()
        })
        .collect()
}

/// A header and the rows, columns padded to their widest cell; one line per
/// row (line breaks and other controls inside values shown escaped, `\n`).
fn table(result: &SqlRows) -> String {
    let cells: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|v| safe(&v.display()).into_owned())
                .collect()
        })
        .collect();
    let columns: Vec<String> = result
        .columns
        .iter()
        .map(|c| safe(c).into_owned())
        .collect();
    let width = |i: usize| {
        cells
            .iter()
            .map(|r| r[i].chars().count())
            .chain([columns[i].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..columns.len()).map(width).collect();
    let line = |values: &[String]| {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_owned() + "\n"
    };
    let mut out = line(&columns);
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&line(&rule));
    for row in &cells {
        out.push_str(&line(row));
    }
    out
}
