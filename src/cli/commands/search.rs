//! `atom search TEXT [-n N]`: full-text search over summaries and metadata,
//! newest match first.

use atom::AtomView;
use serde::Serialize;

use crate::cli::commands::view;
use crate::cli::error::CliError;
use crate::cli::output::{safe, DIM};
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Words to find (all of them, any case; `gaming.env` matches as written, `deploy*` is a prefix).
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
    /// Show at most N atoms.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    limit: Option<usize>,
}

/// An item of `atom log --json` plus where the text matched.
#[derive(Serialize)]
pub struct Hit<'a> {
    #[serde(flatten)]
    pub atom: &'a AtomView,
    pub snippet: &'a str,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let text = args.text.join(" ");
    if atom::index::fts_query(&text).is_none() {
        return Err(CliError::usage(
            "the search text has no word to search for",
            "give at least one word, e.g. `atom search gaming.env`",
        ));
    }
    let hits = ctx.open()?.search(&text, args.limit)?;
    if ctx.printer.json {
        let items: Vec<Hit<'_>> = hits
            .iter()
            .map(|(atom, snippet)| Hit { atom, snippet })
            .collect();
        ctx.printer.json(&items)?;
        return Ok(());
    }
    if hits.is_empty() {
        ctx.printer.note(&format!("no atom matches {text:?}"));
    }
    let mut out = String::new();
    for (atom, snippet) in &hits {
        out.push_str(&view::one_line(&ctx.printer, atom));
        out.push_str("\n    ");
        out.push_str(&ctx.printer.paint(DIM, &safe(&snippet.replace('\n', " "))));
        out.push('\n');
    }
    ctx.printer.out(&out)?;
    Ok(())
}
