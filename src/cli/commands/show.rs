//! `atom show ID`: one atom in full.

use crate::cli::commands::view;
use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// An atom id, a trail name or a commit sha prefix.
    id: String,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let atom = trail.show(&args.id)?;
    if ctx.printer.json {
        ctx.printer.json(&atom)?;
    } else {
        ctx.printer.out(&view::full(&ctx.printer, &atom))?;
    }
    Ok(())
}
