//! `atom log`: atoms newest first.

use crate::cli::commands::view;
use crate::cli::error::CliError;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A trail name, an atom id or a commit sha prefix (default: the current trail).
    rev: Option<String>,
    /// Show at most N atoms.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    limit: Option<usize>,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let atoms = trail.log(args.rev.as_deref(), args.limit)?;
    if ctx.printer.json {
        ctx.printer.json(&atoms)?;
        return Ok(());
    }
    if atoms.is_empty() && args.rev.is_none() {
        ctx.printer.note(&format!(
            "trail {} has no atoms yet; add one with `atom record TYPE OPERATION`",
            trail.current_trail()?
        ));
    }
    let mut text = String::new();
    for a in &atoms {
        text.push_str(&view::one_line(&ctx.printer, a));
        text.push('\n');
    }
    ctx.printer.out(&text)?;
    Ok(())
}
