//! `atom log`: atoms newest first, filtered through the index.

use atom::index::Filter;

use crate::cli::commands::view;
use crate::cli::dates;
use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A trail, an atom id (any case), a commit sha prefix, @, REV~N, or a range A..B (in B, not in A) (default: the current trail).
    rev: Option<String>,
    /// Show at most N atoms.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    limit: Option<usize>,
    /// Only atoms of this TYPE (any case).
    #[arg(long = "type", value_name = "TYPE")]
    atom_type: Option<String>,
    /// Only atoms by this agent (ignoring case).
    #[arg(long)]
    agent: Option<String>,
    /// Only atoms with this operation.
    #[arg(long)]
    operation: Option<String>,
    /// Only atoms that touched this path (metadata.path, metadata.paths, files, attachments).
    #[arg(long)]
    path: Option<String>,
    /// Only atoms of this project.
    #[arg(long)]
    project: Option<String>,
    /// Only atoms at or after this time: RFC 3339, YYYY-MM-DD, today, yesterday, Nd, Nh.
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Only atoms before this time: RFC 3339, YYYY-MM-DD, today, yesterday, Nd, Nh.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only atoms whose summary, operation or metadata contain TEXT (any case).
    #[arg(long, value_name = "TEXT")]
    grep: Option<String>,
    /// Atoms of every trail and archived tip.
    #[arg(long, conflicts_with = "rev")]
    all: bool,
    /// Draw the history as a graph, like `git log --graph`.
    #[arg(long)]
    graph: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let filter = Filter {
        atom_type: args.atom_type,
        agent: args.agent,
        operation: args.operation,
        path: args.path,
        project: args.project,
        since: args
            .since
            .as_deref()
            .map(|d| dates::parse_timestamp("--since", d))
            .transpose()?,
        until: args
            .until
            .as_deref()
            .map(|d| dates::parse_timestamp("--until", d))
            .transpose()?,
        grep: args.grep,
        limit: args.limit,
        after: None,
    };
    let trail = ctx.open()?;
    let atoms = trail.log(args.rev.as_deref(), args.all, &filter)?;
    if ctx.printer.json {
        ctx.printer.json(&atoms)?;
        return Ok(());
    }
    // `-n 0` asks for nothing: an empty answer says nothing about the
    // trail. Otherwise no atoms without filters means an empty trail.
    if atoms.is_empty() && args.rev.is_none() && !args.all && filter.limit != Some(0) {
        ctx.printer.note(&format!(
            "no atoms on trail {}{}",
            trail.current_trail()?,
            if filter_is_empty(&filter) {
                "; add one with `atom record TYPE OPERATION`"
            } else {
                " match"
            }
        ));
    }
    let text = if args.graph {
        view::graph(&ctx.printer, &atoms)
    } else {
        atoms
            .iter()
            .map(|a| view::one_line(&ctx.printer, a) + "\n")
            .collect()
    };
    ctx.printer.page(&text)?;
    Ok(())
}

fn filter_is_empty(f: &Filter) -> bool {
    f.atom_type.is_none()
        && f.agent.is_none()
        && f.operation.is_none()
        && f.path.is_none()
        && f.project.is_none()
        && f.since.is_none()
        && f.until.is_none()
        && f.grep.is_none()
}
