//! `atom fork NAME [--from ID] [--switch]`: start a new trail.

use atom::shell::quote;

use crate::cli::error::CliError;
use crate::cli::output::safe;
use crate::cli::Ctx;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The new trail's name (letters, digits, '.', '_', '-').
    name: String,
    /// Where it starts: an atom id, a trail or a commit (default: the current trail's head).
    #[arg(long, value_name = "ID")]
    from: Option<String>,
    /// Make the new trail the current one.
    #[arg(long)]
    switch: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let trail = ctx.open()?;
    let report = trail.fork(&args.name, args.from.as_deref(), args.switch)?;
    if ctx.printer.json {
        ctx.printer.json(&report)?;
        return Ok(());
    }
    ctx.printer.out(&format!(
        "created trail {} at {} ({})\n",
        safe(&report.name),
        safe(&report.from),
        &report.commit[..12]
    ))?;
    if report.switched {
        ctx.printer
            .out(&format!("switched to trail {}\n", safe(&report.name)))?;
    } else {
        ctx.printer.note(&format!(
            "switch to it with `atom switch {}`",
            quote(&report.name)
        ));
    }
    Ok(())
}
